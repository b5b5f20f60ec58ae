"""Kakehashi's knowledge base: embeddings, the vector store, retrieval and answers.

Start with :class:`kb.service.KnowledgeBase`; the CLI is ``python -m kb``.
"""

from kb.service import KnowledgeBase, __version__

__all__ = ["KnowledgeBase", "__version__"]
