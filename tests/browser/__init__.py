"""The browser tier: the review page in Debian's chromium, driven by Playwright.

pytest -m browser
"""
