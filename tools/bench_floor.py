"""Not a page of the app: the floor that ``python -m tools.app_bench --floor`` measures against.

The Train page's live view with nothing in it. A *Train* button starts the Train page's default
comparison (``?epochs=`` as on the Train page) in the app's workspace, and the same live helper
(`common.live`: a fragment that reruns every `common.REFRESH_S` s while the runs train) draws one
line of text, and *Stop* ends the runs. What training loses with this page open is what polling
itself costs on the machine, whatever a page draws. Run it alone: ``streamlit run tools/bench_floor.py``.
"""

import streamlit as st

from explorer.views import urlstate
from pages import common


def _steps(found) -> None:
    records = sum(len(r) for r in found.records.values())
    st.markdown(f"steps done: {sum(info.steps_done or 0 for info in found.infos)} · records read: {records}")


if st.button("Train", type="primary"):
    epochs = st.query_params.get("epochs", str(urlstate.DEFAULTS["epochs"]))
    common.remember_group(common.workspace().compare(*urlstate.configs({"epochs": int(epochs)})).group)
    st.rerun()
if st.button("Stop") and (shown := common.comparison()) is not None:
    shown.stop()
common.live(_steps)
