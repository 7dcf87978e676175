"""Experiments of the field as one call each: the parity task (`parity`: its one setup and config
builder; `parity_runs`: as background runs; `parity_table`: its one final table), the classroom
`lessons`, the 2-D `playground`, and the published figures they are shown beside (`references`).

They compose runs and views; front ends (pages, widgets, the command line) call them.
"""
