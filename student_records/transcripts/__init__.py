"""Transcripts, with the credit-weighted GPA computed in SQL, and the grade scale."""
