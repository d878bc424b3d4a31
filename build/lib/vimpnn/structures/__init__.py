"""Geometry of the four datasets: QM9 readers, isometric scaling, fcc crystals, cluster growth."""
