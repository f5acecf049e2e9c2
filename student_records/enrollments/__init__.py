"""Enrollments of students in offerings, and the grades that complete them."""
