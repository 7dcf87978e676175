"""What a person sees of runs, without a front end: tidy tables (`frames`, `run_table`), Altair charts
(`charts`), live SVG and PNG (`sketch`, `paint`), 2-D maps of hidden layers (`embed`, `maps`) and a
setup as URL parameters (`urlstate`).

Shared by the Streamlit pages and the notebook widgets; it reads runs and the engine, never a front end.
"""
