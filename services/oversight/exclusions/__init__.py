"""exclusions"""
