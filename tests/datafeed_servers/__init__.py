"""Local stand-ins for the market data vendors, speaking their wire protocols on 127.0.0.1 only."""
