"""bot/session"""
