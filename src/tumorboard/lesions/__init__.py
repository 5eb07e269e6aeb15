"""Lesion and whole-body measurements on images (volumes, diameters, histograms)."""
