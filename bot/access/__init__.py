"""bot/access"""
