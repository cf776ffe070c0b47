"""Finance's monthly view of what each team spends: the model every source fills (model.py), the
CUR 2.0 export read through Athena (athena.py), and the files finance opens: a CSV with FOCUS
column names (focus.py) and a self-contained HTML report with a trend chart per team (html.py)."""
