"""Forecasters: ARIMA and ETS (statsmodels), Prophet, LSTM (torch)."""
