"""representations page (being written)."""

import streamlit as st

st.title("Representations")
st.info("This page is being built.")
