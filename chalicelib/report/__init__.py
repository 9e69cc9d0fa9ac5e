"""Findings as a page to look at: one self-contained HTML file (`render_html`). Pure."""

from .html import render_html

__all__ = ["render_html"]
