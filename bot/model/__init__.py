"""bot/model"""
