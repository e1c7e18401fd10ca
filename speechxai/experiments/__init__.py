"""The protocols of the book's chapters, one module per chapter, built from the package's
data, model, attribution and evaluation parts so that the notebooks stay thin."""
