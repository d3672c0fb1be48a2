"""URLs of the compatibility APIs, mounted at the root: /v1alpha1/... and /1.1/..."""

urlpatterns: list = []
