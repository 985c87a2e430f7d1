"""bot/backends"""
