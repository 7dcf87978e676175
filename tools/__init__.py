"""Developer tools, outside the installed package: run them from the repository root.

- ``python -m tools.app_bench``: the app in a real browser (needs Playwright and Chromium);
- ``tools/bench_floor.py``: the Streamlit script `app_bench --floor` measures against.
"""
