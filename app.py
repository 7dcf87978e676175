"""explorer: see how neural networks learn when the backward pass is not backpropagation.

Run with ``streamlit run app.py``. The pages live in ``pages/``; this file only lays them out.
"""

import streamlit as st

from pages import common

st.set_page_config(page_title="explorer", page_icon=":material/explore:", layout="wide")

PAGES = [
    st.Page("pages/train.py", title="Train", icon=":material/play_circle:", default=True),
    st.Page("pages/alignment.py", title="Alignment", icon=":material/architecture:"),
    st.Page("pages/representations.py", title="Representations", icon=":material/scatter_plot:"),
    st.Page("pages/parity.py", title="Parity", icon=":material/casino:"),
    st.Page("pages/playground.py", title="Playground", icon=":material/palette:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
]

page = st.navigation(PAGES)
page.run()
common.sidebar()  # after the page, so that it counts the runs as the page has just shown them
