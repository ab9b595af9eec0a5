"""Dashboards, district figures, ledgers (台账) and the yearly report (年度报告), SPEC §7."""
