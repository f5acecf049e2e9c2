"""Tooling for a deployed stack: Cognito users and their ID tokens (`make aws-user`, `make aws-token`), and
the end-to-end suite that drives the API over HTTP(S) and checks that its signals arrived (`make e2e`)."""
