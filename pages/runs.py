"""runs page (being written)."""

import streamlit as st

st.title("Runs")
st.info("This page is being built.")
