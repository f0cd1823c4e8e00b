// Module Autograd: see issue 4 (engine).
