"""The compared methods, one module each (:mod:`srseg.methods.base` says what a method declares).

This package's ``__init__`` imports nothing, so a stage that trains one method imports only that method's module;
:mod:`srseg.methods.registry` imports them all.
"""
