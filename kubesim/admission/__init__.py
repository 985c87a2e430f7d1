"""Admission and validation: pod and ephemeral-container validation, server-side field
validation and PodSecurity, each with the apiserver's own messages."""
