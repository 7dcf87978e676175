"""Experiments of the field as one call each: the parity task (`parity`, `parity_runs`), the classroom
`lessons`, the 2-D `playground`, and the published figures they are shown beside (`references`).

They compose runs and views; front ends (pages, widgets, the command line) call them.
"""
