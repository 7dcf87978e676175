"""alignment page (being written)."""

import streamlit as st

st.title("Alignment")
st.info("This page is being built.")
