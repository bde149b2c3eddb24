"""Churn prediction (issue 14, "Model 3"): monthly logistic regression on six months of engagement."""
