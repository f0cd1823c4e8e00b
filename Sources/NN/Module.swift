// Module NN: see issue 4 (engine).
