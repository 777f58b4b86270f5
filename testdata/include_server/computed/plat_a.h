/* plat_a */
