"""The CRM dashboard (Streamlit) on the published marts: `python -m orchestration.cli dashboard`."""
