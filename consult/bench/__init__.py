"""`consult bench`: a load benchmark against a real server on loopback."""
