"""The report's sections, one module each: headline, detection, classification, effective robustness,
published numbers and provenance. Each turns checked inputs into the JSON-able blocks and tables the
renderers show."""
