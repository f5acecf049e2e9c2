"""The course catalogue: courses, terms, and offerings of a course in a term (with a teacher and a capacity
enforced under concurrency). One resource: one access rule, managed together by registrars."""
