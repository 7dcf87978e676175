"""parity page (being written)."""

import streamlit as st

st.title("Parity")
st.info("This page is being built.")
