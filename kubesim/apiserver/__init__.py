"""The API server: HTTP routing, authentication, impersonation, RBAC, generic CRUD, writes,
watches, discovery, OpenAPI and Table answers, as kube-apiserver serves them."""
