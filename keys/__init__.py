"""Commercial cryptography and key custody: SM2, SM3, SM4, SM2 X.509, key store."""
