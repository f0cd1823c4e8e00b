// Segmentation and reconstruction networks (method.md §2): see issue 4/6.
