"""The offline test web: an origin server that plays scenarios and a pywb archive, on loopback."""
