"""Helpers the tests share: throwaway servers and the like, never a test themselves."""
