"""The report's sections, one module each. ``classification``, ``detection`` and ``coco_o`` each define a
``SECTION`` (``base.Section``), registered in ``fan_det.report.registry``; ``effective`` belongs to the
classification section; ``headline``, ``published`` and ``provenance`` are built across the registered
sections. Each turns checked inputs into the JSON-able blocks and tables the renderers show."""
