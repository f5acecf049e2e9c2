"""Infrastructure as code: the SAM template's source, the dashboards and alarms as data, and the render
step that joins them into the deployable template.yaml (`make template`)."""
