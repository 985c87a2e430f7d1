"""bot/redaction"""
