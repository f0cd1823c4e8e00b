// Module Tensor: see issue 4 (engine).
