"""convert_weights: public ViT checkpoints -> embed's safetensors files."""
