"""OOD classification evaluation: ImageNet-A/-R/-Sketch/-V2/-C and val for any classifier (``eval_ood``).

Modules: ``synsets`` (timm's class lists), ``image_folders`` (folder layouts), ``classifier`` (the model
and its weights), ``evaluate`` (the loop), ``distributed``, ``cache``, ``document`` (metrics blocks),
``pipeline`` (``run_ood``). The package import stays light: nothing is imported here.
"""
