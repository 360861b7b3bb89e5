"""The pages a person sees: the authorize and connect views, the flow's state,
the error pages and their texts, the accounts page, and the site's layout.
"""
