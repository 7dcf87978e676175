"""explorer: see how neural networks learn when the backward pass is not backpropagation.

Run with ``streamlit run app.py``. The pages live in ``pages/``; this file only lays them out.
"""

import streamlit as st

from pages import common

common.leave_pages_folder_mode()
st.set_page_config(page_title="explorer", layout="wide")

PAGES = [
    st.Page("pages/train.py", title="Train", default=True),
    st.Page("pages/alignment.py", title="Alignment"),
    st.Page("pages/representations.py", title="Representations"),
    st.Page("pages/parity.py", title="Parity"),
    st.Page("pages/playground.py", title="Playground"),
    st.Page("pages/runs.py", title="Runs"),
    st.Page("pages/lessons.py", title="Lessons"),
    st.Page("pages/reproduce.py", title="Reproduce"),
]

page = st.navigation(PAGES)
page.run()
common.sidebar()  # after the page, so that it counts the runs as the page has just shown them
