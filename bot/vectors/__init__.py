"""Vectors: listings and interests embedded once per content hash and model.

embed.py       the lazy sentence-transformers encoder and model-name handling
embed_onnx.py  the optional onnxruntime path (`PAPERBOT_MODEL=…@onnx` / `…@onnx-int8`)
store.py       stored vectors by content hash, and loading them into the FAISS index
"""
