"""REST/JSON edge of the RIS hub, served from the ris.v1 gRPC contract.

Entry points: ``ris_edge.app.create_app`` builds the FastAPI app,
``ris_edge.serving.EdgeServer`` runs it inside an existing event loop, and
``ris_edge.main.main`` is the ``ris-edge`` command.
"""
